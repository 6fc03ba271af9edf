-- Drives a headless Neovim against the real ghostls server the way a user would (opening
-- files, typing through nvim_input, :wq) and writes what it observed to $GHOSTLS_TEST_RESULT
-- as JSON. The pytest side makes the assertions. Run by tests/clients/test_neovim.py.
local api = vim.api

local workdir = assert(os.getenv('GHOSTLS_TEST_DIR'))
local out_path = assert(os.getenv('GHOSTLS_TEST_RESULT'))
local scenario = assert(os.getenv('GHOSTLS_TEST_SCENARIO'))
local started = vim.uv.hrtime()

local result = { scenario = scenario, timings_ms = {}, statuses = {} }

local function elapsed_ms()
  return math.floor((vim.uv.hrtime() - started) / 1e6)
end

local function save()
  result.total_ms = elapsed_ms()
  local f = assert(io.open(out_path, 'w'))
  f:write(vim.json.encode(result))
  f:close()
end

local runner -- the coroutine running the scenario

local function resume()
  local ok, err = coroutine.resume(runner)
  if not ok then
    result.error = debug.traceback(runner, tostring(err))
    save()
    vim.cmd('cquit! 3')
  end
end

-- Yield to Neovim's main loop (input, LSP messages, timers all run) for `ms`.
local function sleep(ms)
  vim.defer_fn(resume, ms)
  coroutine.yield()
end

-- Poll `predicate` until it returns a truthy value or `timeout_ms` passes.
local function wait_for(name, predicate, timeout_ms)
  local t0 = vim.uv.hrtime()
  local value = predicate()
  while not value and (vim.uv.hrtime() - t0) / 1e6 < timeout_ms do
    sleep(25)
    value = predicate()
  end
  result.timings_ms[name] = math.floor((vim.uv.hrtime() - t0) / 1e6)
  return value
end

local function ghostls_client(bufnr)
  return vim.lsp.get_clients({ name = 'ghostls', bufnr = bufnr or 0 })[1]
end

local function buffer_text(bufnr)
  return table.concat(api.nvim_buf_get_lines(bufnr, 0, -1, false), '\n') .. '\n'
end

-- Keys as if typed; nvim_input is non-blocking, so give the main loop a moment.
local function type_keys(keys)
  api.nvim_input(keys)
  sleep(30)
end

-- Record every ghostls/status notification next to the plugin's own handler.
local plugin_status_handler = vim.lsp.handlers['ghostls/status']
vim.lsp.handlers['ghostls/status'] = function(err, params, ctx)
  table.insert(result.statuses, params)
  if plugin_status_handler then
    return plugin_status_handler(err, params, ctx)
  end
end

local function wait_attached(bufnr)
  local client = wait_for('attach', function()
    local c = ghostls_client(bufnr)
    return c and c.initialized and c
  end, 40000)
  if not client then
    error('ghostls did not attach')
  end
  result.attach = {
    name = client.name,
    server_name = client.server_info and client.server_info.name,
    offset_encoding = client.offset_encoding,
    inline_completion_provider = client.server_capabilities.inlineCompletionProvider ~= nil,
    completion_provider = client.server_capabilities.completionProvider ~= nil,
    code_action_provider = client.server_capabilities.codeActionProvider ~= nil,
    advertised_inline_completion = vim.tbl_get(
      client.capabilities,
      'textDocument',
      'inlineCompletion'
    ) ~= nil,
  }
  return client
end

local function wait_model_ready()
  wait_for('model_ready', function()
    local status = result.statuses[#result.statuses]
    return status and (status.state == 'ready' or status.state == 'error')
  end, 30000)
end

-- Diagnostics, then the quick fix through vim.lsp.buf.code_action (no plugin involved).
local function check_diagnostics_and_fix(file)
  vim.cmd.edit(workdir .. '/' .. file)
  local bufnr = api.nvim_get_current_buf()
  wait_attached(bufnr)
  local errors = wait_for(file .. '/diagnostics', function()
    local found = vim.diagnostic.get(bufnr, { severity = vim.diagnostic.severity.ERROR })
    return #found > 0 and found
  end, 20000) or {}
  local out = { diagnostics = {} }
  result.files = result.files or {}
  result.files[file] = out
  for _, d in ipairs(errors) do
    table.insert(out.diagnostics, {
      lnum = d.lnum,
      col = d.col,
      message = d.message,
      source = d.source,
      severity = d.severity,
    })
  end
  if #errors == 0 then
    return
  end

  -- The user puts the cursor on the error and asks for quick fixes; when several are offered
  -- they pick the preferred one from the menu (vim.ui.select).
  api.nvim_win_set_cursor(0, { errors[1].lnum + 1, errors[1].col })
  out.fix = { offered = {} }
  vim.ui.select = function(items, opts, on_choice)
    local choice, index = nil, nil
    for i, item in ipairs(items) do
      local action = item.action or item
      table.insert(out.fix.offered, { title = action.title, preferred = action.isPreferred })
      if action.isPreferred and not choice then
        choice, index = item, i
      end
    end
    if not choice then
      choice, index = items[1], 1
    end
    on_choice(choice, index)
  end
  local tick = api.nvim_buf_get_changedtick(bufnr)
  vim.lsp.buf.code_action({ context = { only = { 'quickfix' } }, apply = true })
  local changed = wait_for(file .. '/fix_applied', function()
    return api.nvim_buf_get_changedtick(bufnr) ~= tick
  end, 20000)
  out.fix.applied = changed and true or false
  out.fix.text = buffer_text(bufnr)
  vim.cmd.write()
  local cleared = wait_for(file .. '/diagnostics_after_fix', function()
    return #vim.diagnostic.get(bufnr, { severity = vim.diagnostic.severity.ERROR }) == 0
  end, 10000)
  out.fix.errors_after = #vim.diagnostic.get(bufnr, { severity = vim.diagnostic.severity.ERROR })
  out.fix.cleared = cleared and true or false
end

-- textDocument/completion, as the completion menu (omnifunc, <C-x><C-o>) asks for it.
local function check_completion()
  vim.cmd.edit(workdir .. '/complete.py')
  local bufnr = api.nvim_get_current_buf()
  local client = wait_attached(bufnr)
  wait_model_ready()
  local last = api.nvim_buf_line_count(bufnr)
  local line = api.nvim_buf_get_lines(bufnr, last - 1, last, false)[1]
  local params = {
    textDocument = vim.lsp.util.make_text_document_params(bufnr),
    position = { line = last - 1, character = vim.str_utfindex(line, client.offset_encoding) },
    context = { triggerKind = 1 },
  }
  local t0 = vim.uv.hrtime()
  local response = client:request_sync('textDocument/completion', params, 30000, bufnr)
  result.timings_ms.completion_request = math.floor((vim.uv.hrtime() - t0) / 1e6)
  result.completion = { line = line, items = {} }
  if response and response.err then
    result.completion.error = response.err.message
  end
  local items = response and response.result and (response.result.items or response.result) or {}
  for _, item in ipairs(items) do
    table.insert(result.completion.items, {
      label = item.label,
      insert_text = item.insertText,
      new_text = item.textEdit and item.textEdit.newText,
      kind = item.kind,
      detail = item.detail,
    })
  end

  -- The same through the menu: Insert mode at the end of the line, then <C-x><C-o>.
  api.nvim_win_set_cursor(0, { last, #line })
  type_keys('A<C-x><C-o>')
  local menu = wait_for('completion_menu', function()
    local info = vim.fn.complete_info({ 'items' })
    return #info.items > 0 and info.items
  end, 20000) or {}
  result.completion.menu = {}
  for _, item in ipairs(menu) do
    table.insert(result.completion.menu, item.word)
  end
  -- With the default 'completeopt' the first match is already in the buffer.
  sleep(100)
  result.completion.line_after_accept = api.nvim_get_current_line()
  type_keys('<Esc>')
end

-- The plugin: ghost text while typing, dismissed on a cursor move, accepted with <C-l>.
local function check_ghost_text()
  vim.cmd.edit(workdir .. '/ghost.py')
  local bufnr = api.nvim_get_current_buf()
  wait_attached(bufnr)
  wait_model_ready()
  local ghostls = require('ghostls')
  local ns = ghostls.namespace
  local function extmarks()
    return api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })
  end
  result.ghost = {}

  local typed = assert(os.getenv('GHOSTLS_TEST_TYPED'))
  type_keys('Go' .. typed)
  local shown = wait_for('ghost_text', function()
    return ghostls.current(bufnr)
  end, 25000)
  if not shown then
    result.ghost.shown = false
    return
  end
  result.ghost.shown = true
  result.ghost.first = shown.ghost
  result.ghost.item_insert_text = shown.text
  local marks = extmarks()
  result.ghost.extmarks = {}
  for _, m in ipairs(marks) do
    local details = m[4]
    local virt_lines = {}
    for _, chunks in ipairs(details.virt_lines or {}) do
      table.insert(virt_lines, chunks[1] and chunks[1][1] or '')
    end
    table.insert(result.ghost.extmarks, {
      row = m[2],
      col = m[3],
      virt_text = details.virt_text and details.virt_text[1][1],
      virt_text_pos = details.virt_text_pos,
      virt_lines = virt_lines,
    })
  end

  -- Typing the suggestion's next character keeps the rest on screen, without a new request.
  local next_char = shown.ghost:sub(1, 1)
  if next_char:match('^[%w%p ]$') and #shown.ghost > 1 then
    local expected = shown.ghost:sub(2)
    type_keys(next_char == '<' and '<lt>' or next_char)
    local kept = ghostls.current(bufnr)
    local after_marks = extmarks()
    result.ghost.typed_through = {
      typed = next_char,
      expected = expected,
      ghost = kept and kept.ghost or vim.NIL,
      virt_text = after_marks[1] and after_marks[1][4].virt_text[1][1] or vim.NIL,
    }
  end

  -- A cursor move dismisses the suggestion.
  type_keys('<Left>')
  result.ghost.dismissed_on_move = wait_for('dismiss', function()
    return #extmarks() == 0 and ghostls.current(bufnr) == nil
  end, 2000) and true or false
  type_keys('<Right>')

  -- Asked again at the same place (as a mapping to trigger() would), then accepted.
  type_keys('<Cmd>lua require("ghostls").trigger()<CR>')
  local again = wait_for('ghost_text_again', function()
    return ghostls.current(bufnr)
  end, 25000)
  if not again then
    result.ghost.shown_again = false
    return
  end
  result.ghost.shown_again = true
  local cursor = api.nvim_win_get_cursor(0)
  result.ghost.before = {
    text = buffer_text(bufnr),
    row = cursor[1] - 1,
    col = cursor[2],
    ghost = again.ghost,
  }
  local tick = api.nvim_buf_get_changedtick(bufnr)
  type_keys('<C-l>')
  wait_for('accept', function()
    return api.nvim_buf_get_changedtick(bufnr) ~= tick
  end, 2000)
  local after_cursor = api.nvim_win_get_cursor(0)
  result.ghost.after = {
    text = buffer_text(bufnr),
    row = after_cursor[1] - 1,
    col = after_cursor[2],
    mode = api.nvim_get_mode().mode,
    extmarks_right_after = #extmarks(),
  }
  type_keys('<Esc>')
  result.ghost.cleared_on_insert_leave = #extmarks() == 0
end

local scenarios = {}

function scenarios.features()
  local steps = {
    diagnostics = check_diagnostics_and_fix,
    completion = check_completion,
    ghost = check_ghost_text,
  }
  -- "name" or "name=file", comma-separated.
  for _, spec in ipairs(vim.split(os.getenv('GHOSTLS_TEST_STEPS') or '', ',', { trimempty = true })) do
    local name, file = spec:match('^([^=]+)=?(.*)$')
    local ok, err = pcall(steps[name], file ~= '' and file or nil)
    if not ok then
      result[spec .. '_error'] = tostring(err)
    end
  end
  save()
  vim.cmd('qa!')
end

-- The user edits and saves-and-quits at once while the server's debounced diagnostics
-- publish is still pending.
function scenarios.wq()
  vim.cmd.edit(workdir .. '/quick.py')
  local bufnr = api.nvim_get_current_buf()
  wait_attached(bufnr)
  type_keys('Goy = x + 1<Esc>')
  -- Past Neovim's own 150 ms didChange debounce, well inside the server's.
  sleep(300)
  result.text_before_quit = buffer_text(bufnr)
  save()
  type_keys(':wq<CR>')
end

runner = coroutine.create(function()
  local run = scenarios[scenario]
  if not run then
    error('unknown scenario ' .. scenario)
  end
  run()
end)
vim.schedule(resume)
