"""L4Linux cut into fragments: servers with declared interfaces, and their compositions."""
