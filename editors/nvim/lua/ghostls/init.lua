-- ghostls for Neovim 0.11+: ghost text from textDocument/inlineCompletion.
--
-- Neovim 0.11's built-in client has no inline-completion UI, so this module asks the server
-- while you type (debounced, cancelling the previous request), draws the suggestion with
-- extmarks (first line inline at the cursor, further lines as virtual lines) and inserts it
-- when you press the accept key. Moving the cursor or leaving Insert mode dismisses it.
-- Diagnostics, code actions and the completion menu need no plugin: the built-in client
-- handles them.
--
--   require('ghostls').setup({ accept_key = '<C-l>' })

local api = vim.api

local M = {}

local INLINE_COMPLETION = 'textDocument/inlineCompletion'
local TRIGGER_INVOKED = 1
local TRIGGER_AUTOMATIC = 2

M.namespace = api.nvim_create_namespace('ghostls.ghost_text')

local defaults = {
  client_name = 'ghostls', -- the name given to vim.lsp.config()
  accept_key = '<C-l>', -- Insert-mode key that accepts; false for no mapping
  dismiss_key = false, -- e.g. '<C-]>'; moving the cursor dismisses anyway
  debounce_ms = 150, -- wait after the last keystroke before asking
  auto_trigger = true, -- ask while typing; false: only on require('ghostls').trigger()
  hl_group = 'GhostlsGhostText', -- linked to Comment unless you define it
}

M.config = vim.deepcopy(defaults)

-- Per-buffer state: { timer, pending = { client, id }, shown = suggestion on screen }.
local buffers = {}
-- Last ghostls/status notification, for statuslines.
local last_status = nil

local function state(bufnr)
  local s = buffers[bufnr]
  if not s then
    s = {}
    buffers[bufnr] = s
  end
  return s
end

local function ghostls_client(bufnr)
  for _, client in ipairs(vim.lsp.get_clients({ bufnr = bufnr, name = M.config.client_name })) do
    if client.server_capabilities and client.server_capabilities.inlineCompletionProvider then
      return client
    end
  end
  return nil
end

local function in_insert_mode()
  return api.nvim_get_mode().mode:sub(1, 1) == 'i'
end

local function cancel_pending(s)
  local pending = s.pending
  s.pending = nil
  if pending and not pending.client:is_stopped() then
    pending.client:cancel_request(pending.id)
  end
end

local function stop_timer(s)
  if s.timer then
    s.timer:stop()
  end
end

local function clear(bufnr)
  if api.nvim_buf_is_valid(bufnr) then
    api.nvim_buf_clear_namespace(bufnr, M.namespace, 0, -1)
  end
  state(bufnr).shown = nil
end

local function item_text(item)
  local text = item.insertText
  if type(text) == 'table' then
    -- A snippet (StringValue): show its plain text; placeholders are rare in ghost text.
    text = text.value
  end
  if type(text) ~= 'string' then
    return nil
  end
  return text
end

-- The byte column of an LSP position on `row`, in the client's position encoding.
local function byte_col(bufnr, row, character, encoding)
  local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  return vim.str_byteindex(line, encoding, character, false)
end

local function render(bufnr, s)
  api.nvim_buf_clear_namespace(bufnr, M.namespace, 0, -1)
  local lines = vim.split(s.ghost, '\n', { plain = true })
  local opts = {
    virt_text = { { lines[1], M.config.hl_group } },
    virt_text_pos = 'inline',
    hl_mode = 'combine',
    -- Text typed at the cursor goes before the ghost, which stays glued to the cursor.
    right_gravity = true,
  }
  if #lines > 1 then
    local rest = {}
    for i = 2, #lines do
      rest[#rest + 1] = { { lines[i], M.config.hl_group } }
    end
    opts.virt_lines = rest
  end
  s.extmark = api.nvim_buf_set_extmark(bufnr, M.namespace, s.row, s.col, opts)
end

-- Turn the server's answer into the suggestion to show at the cursor (row, col: 0-based bytes).
local function suggestion_from(bufnr, client, result, row, col)
  local items = result and (result.items or result) or {}
  for _, item in ipairs(items) do
    local text = item_text(item)
    if text and text ~= '' then
      local start_col, end_row, end_col = col, row, col
      local ghost = text
      if item.range then
        local r = item.range
        if r.start.line ~= row or r['end'].line ~= row then
          goto continue -- ghost text starts and ends on the cursor's line
        end
        local encoding = client.offset_encoding
        start_col = byte_col(bufnr, row, r.start.character, encoding)
        end_col = byte_col(bufnr, row, r['end'].character, encoding)
        if start_col > col or end_col < col then
          goto continue
        end
        local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
        local typed = line:sub(start_col + 1, col)
        if text:sub(1, #typed) ~= typed then
          goto continue -- it does not continue what is already there
        end
        ghost = text:sub(#typed + 1)
        -- Text after the cursor that the item replaces is shown by the ghost already.
        local replaced = line:sub(col + 1, end_col)
        local first = ghost:match('^[^\n]*')
        if replaced ~= '' and first:sub(-#replaced) == replaced then
          ghost = first:sub(1, #first - #replaced) .. ghost:sub(#first + 1)
        end
      end
      if ghost ~= '' then
        return {
          client_id = client.id,
          item = item,
          text = text,
          ghost = ghost,
          row = row,
          col = col,
          start_col = start_col,
          end_row = end_row,
          end_col = end_col,
          tick = api.nvim_buf_get_changedtick(bufnr),
        }
      end
    end
    ::continue::
  end
  return nil
end

--- Ask the server for a suggestion at the cursor now (no debounce).
---@param bufnr? integer
---@param trigger_kind? integer 1 = invoked by the user, 2 = automatic (while typing)
function M.request(bufnr, trigger_kind)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local win = api.nvim_get_current_win()
  if api.nvim_win_get_buf(win) ~= bufnr then
    return
  end
  local client = ghostls_client(bufnr)
  if not client then
    return
  end
  local s = state(bufnr)
  cancel_pending(s)
  local params = vim.lsp.util.make_position_params(win, client.offset_encoding)
  params.context = { triggerKind = trigger_kind or TRIGGER_AUTOMATIC }
  local cursor = api.nvim_win_get_cursor(win)
  local tick = api.nvim_buf_get_changedtick(bufnr)
  local request_id
  local ok, id = client:request(INLINE_COMPLETION, params, function(err, result)
    if s.pending and s.pending.id == request_id then
      s.pending = nil
    end
    if err or not api.nvim_buf_is_valid(bufnr) then
      return
    end
    -- Drop answers to a question that no longer stands (typing went on, cursor moved).
    local now = api.nvim_win_get_cursor(0)
    if
      api.nvim_get_current_buf() ~= bufnr
      or api.nvim_buf_get_changedtick(bufnr) ~= tick
      or now[1] ~= cursor[1]
      or now[2] ~= cursor[2]
      or not in_insert_mode()
    then
      return
    end
    local shown = suggestion_from(bufnr, client, result, cursor[1] - 1, cursor[2])
    clear(bufnr)
    if shown then
      s.shown = shown
      render(bufnr, shown)
    end
  end, bufnr)
  if ok and id then
    request_id = id
    s.pending = { client = client, id = id }
  end
end

--- Ask for a suggestion right away (e.g. from a mapping), as an explicit user request.
function M.trigger()
  M.request(0, TRIGGER_INVOKED)
end

local function schedule_request(bufnr)
  local s = state(bufnr)
  cancel_pending(s)
  if not s.timer then
    s.timer = assert(vim.uv.new_timer())
  end
  s.timer:stop()
  s.timer:start(
    M.config.debounce_ms,
    0,
    vim.schedule_wrap(function()
      if api.nvim_buf_is_valid(bufnr) and in_insert_mode() then
        M.request(bufnr, TRIGGER_AUTOMATIC)
      end
    end)
  )
end

-- After a keystroke: if the user typed the next characters of the suggestion, keep showing
-- the rest of it instead of asking again.
local function typed_through(bufnr, s)
  local shown = s.shown
  if not shown then
    return false
  end
  local cursor = api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  if row ~= shown.row or col <= shown.col then
    return false
  end
  local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  local typed = line:sub(shown.col + 1, col)
  if shown.ghost:sub(1, #typed) ~= typed or #typed >= #shown.ghost then
    return false
  end
  shown.ghost = shown.ghost:sub(#typed + 1)
  shown.col = col
  shown.end_col = math.max(shown.end_col + #typed, col)
  shown.tick = api.nvim_buf_get_changedtick(bufnr)
  render(bufnr, shown)
  return true
end

--- The suggestion on screen in `bufnr`, or nil: { text, ghost, row, col, item }.
function M.current(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  return buffers[bufnr] and buffers[bufnr].shown or nil
end

function M.is_visible(bufnr)
  return M.current(bufnr) ~= nil
end

--- Hide the suggestion and cancel any request in flight.
function M.dismiss(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local s = state(bufnr)
  stop_timer(s)
  cancel_pending(s)
  clear(bufnr)
end

--- Insert the suggestion on screen. Returns false when there is none.
function M.accept(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and api.nvim_get_current_buf() or bufnr
  local shown = M.current(bufnr)
  if not shown then
    return false
  end
  M.dismiss(bufnr)
  local lines = vim.split(shown.text, '\n', { plain = true })
  api.nvim_buf_set_text(bufnr, shown.row, shown.start_col, shown.end_row, shown.end_col, lines)
  local last_row = shown.row + #lines - 1
  local last_col = #lines[#lines] + (#lines == 1 and shown.start_col or 0)
  api.nvim_win_set_cursor(0, { last_row + 1, last_col })
  -- The item's command tells the server it was accepted (LSP 3.18 semantics).
  local client = vim.lsp.get_client_by_id(shown.client_id)
  if client and shown.item.command then
    client:exec_cmd(shown.item.command, { bufnr = bufnr })
  end
  return true
end

--- Status from the server's ghostls/status notifications (model loading/ready/error).
function M.status()
  return last_status
end

local function map_key(key, action)
  local codes = api.nvim_replace_termcodes(key, true, false, true)
  vim.keymap.set('i', key, function()
    if not action() then
      -- Nothing to accept or dismiss: the key does what it did before.
      api.nvim_feedkeys(codes, 'n', false)
    end
  end, { desc = 'ghostls: ' .. key })
end

local augroup = nil

--- Set up ghost text. Call once, e.g. from init.lua after vim.lsp.config('ghostls', ...).
function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts or {})
  api.nvim_set_hl(0, 'GhostlsGhostText', { link = 'Comment', default = true })

  -- Neovim 0.11 does not announce inline completion to servers; tell ghostls it is used.
  if vim.lsp.config then
    vim.lsp.config(M.config.client_name, {
      capabilities = { textDocument = { inlineCompletion = { dynamicRegistration = false } } },
    })
  end
  vim.lsp.handlers['ghostls/status'] = function(_, params)
    last_status = params
  end

  augroup = api.nvim_create_augroup('ghostls.ghost_text', { clear = true })
  api.nvim_create_autocmd('TextChangedI', {
    group = augroup,
    callback = function(ev)
      if not ghostls_client(ev.buf) then
        return
      end
      local s = state(ev.buf)
      if typed_through(ev.buf, s) then
        return
      end
      clear(ev.buf)
      if M.config.auto_trigger then
        schedule_request(ev.buf)
      end
    end,
  })
  api.nvim_create_autocmd('CursorMovedI', {
    group = augroup,
    callback = function(ev)
      local shown = M.current(ev.buf)
      if not shown then
        return
      end
      -- A move without an edit (arrow keys, mouse) dismisses; edits are TextChangedI's job.
      local cursor = api.nvim_win_get_cursor(0)
      local moved = cursor[1] - 1 ~= shown.row or cursor[2] ~= shown.col
      if moved and api.nvim_buf_get_changedtick(ev.buf) == shown.tick then
        M.dismiss(ev.buf)
      end
    end,
  })
  api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = augroup,
    callback = function(ev)
      M.dismiss(ev.buf)
    end,
  })
  api.nvim_create_autocmd({ 'BufWipeout', 'LspDetach' }, {
    group = augroup,
    callback = function(ev)
      local s = buffers[ev.buf]
      if s then
        stop_timer(s)
        cancel_pending(s)
        if s.timer and not s.timer:is_closing() then
          s.timer:close()
        end
        buffers[ev.buf] = nil
      end
    end,
  })

  if M.config.accept_key then
    map_key(M.config.accept_key, function()
      return M.accept(0)
    end)
  end
  if M.config.dismiss_key then
    map_key(M.config.dismiss_key, function()
      local visible = M.is_visible(0)
      M.dismiss(0)
      return visible
    end)
  end
end

return M
