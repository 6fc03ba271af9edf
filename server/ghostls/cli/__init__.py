"""The command line: the server (`serve`) and terminal subcommands that talk to it over LSP."""
