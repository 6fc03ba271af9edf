"""One module per LSP method group; each handler unpacks params and calls a pure function."""
