"""A small, valid one-page PDF built by hand: the invoice Duett attaches when it invoices an
order directly. No dependency: five objects, uncompressed text in WinAnsi (so æøå show), and a
cross-reference table whose offsets are counted from the bytes actually written.
"""

from __future__ import annotations

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points
FONT_SIZE, LEADING, MARGIN = 11, 15, 56


def _string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("cp1252", errors="replace") + b")"


def _text(line: str) -> bytes:
    return _string(line) + b" Tj T*\n"


def text_pdf(lines: list[str], title: str) -> bytes:
    """One A4 page with `lines` of Helvetica text from the top left."""
    content = (
        b"BT\n/F1 %d Tf\n%d TL\n%d %d Td\n" % (FONT_SIZE, LEADING, MARGIN, PAGE_HEIGHT - MARGIN)
        + b"".join(_text(line) for line in lines)
        + b"ET\n"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>" % (PAGE_WIDTH, PAGE_HEIGHT),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream",
        b"<< /Title " + _string(title) + b" /Producer (orderbridge simulator) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        len(objects),
        xref,
    )
    return bytes(out)
