-- ghostls for Neovim 0.11+'s built-in client: with this directory on 'runtimepath',
-- `vim.lsp.enable('ghostls')` starts the server for Python buffers. Override any field with
-- vim.lsp.config('ghostls', { ... }), e.g. cmd or settings.
return {
  cmd = { 'ghostls' },
  filetypes = { 'python' },
  root_markers = { 'pyproject.toml', 'setup.py', 'setup.cfg', 'requirements.txt', '.git' },
  -- Server settings go in `settings = { ghostls = { completion = { maxTokens = 32 } } }`
  -- (answers the server's workspace/configuration request). Keep it out rather than empty:
  -- Lua's {} is sent as a JSON array.
}
