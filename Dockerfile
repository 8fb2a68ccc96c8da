# One image for every orderbridge process (intake, worker, beat, flower, simulators).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY connectors connectors
COPY core core
COPY tasks tasks
COPY workers workers
COPY simulators simulators
COPY orderbridge.example.toml deploy/orderbridge.compose.toml ./
RUN pip install --no-cache-dir .
RUN useradd --create-home orderbridge
USER orderbridge
ENV ORDERBRIDGE_CONFIG=/app/orderbridge.compose.toml
ENTRYPOINT ["orderbridge"]
