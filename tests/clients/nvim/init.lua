-- Neovim config for the end-to-end tests: the set-up the README documents (editors/nvim on
-- 'runtimepath', vim.lsp.enable, the ghost-text plugin), with the server command pointed at
-- the test wrapper and the settings the test asks for.
local repo = assert(os.getenv('GHOSTLS_REPO'))
vim.opt.runtimepath:prepend(repo .. '/editors/nvim')
vim.opt.swapfile = false
-- GHOSTLS_TEST_LSP_LOG=debug keeps every message in $XDG_STATE_HOME/nvim/lsp.log.
if os.getenv('GHOSTLS_TEST_LSP_LOG') then
  vim.lsp.set_log_level(os.getenv('GHOSTLS_TEST_LSP_LOG'))
end
vim.opt.shortmess:append('F')

local settings = vim.json.decode(os.getenv('GHOSTLS_TEST_SETTINGS') or '{}')
vim.lsp.config('ghostls', {
  cmd = { 'sh', repo .. '/tests/clients/run_server.sh' },
  settings = next(settings) and { ghostls = settings } or nil,
})
vim.lsp.enable('ghostls')

-- Ghost text through the plugin, or (GHOSTLS_TEST_PLUGIN=0) the plain built-in client that
-- completion-menu users have.
if os.getenv('GHOSTLS_TEST_PLUGIN') ~= '0' then
  require('ghostls').setup({ accept_key = '<C-l>', debounce_ms = 80 })
end
