"""How orderbridge talks to each ERP: one connector per ERP, the error kinds, HTTP plumbing."""
