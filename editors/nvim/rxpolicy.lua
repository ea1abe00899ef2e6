-- rxpolicy rule files (*.rxp) in Neovim (0.7 or later): the filetype, comments, and `rxpolicy lsp`.
-- Put this file in ~/.config/nvim/plugin/ (Neovim loads it at start). docs/tools/editor.md explains it.
vim.api.nvim_create_autocmd({ "BufRead", "BufNewFile" }, { pattern = "*.rxp", command = "set filetype=rxpolicy" })

local clients = {} -- one server per project

vim.api.nvim_create_autocmd("FileType", {
  pattern = "rxpolicy",
  callback = function(args)
    vim.bo[args.buf].commentstring = "# %s"
    vim.bo[args.buf].expandtab = true
    vim.bo[args.buf].shiftwidth = 2
    -- The project is the nearest directory above the file with a pyproject.toml or .git.
    local dir = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(args.buf), ":p:h")
    local marker = vim.fn.findfile("pyproject.toml", dir .. ";")
    if marker == "" then marker = vim.fn.finddir(".git", dir .. ";") end
    local root = marker ~= "" and vim.fn.fnamemodify(marker, ":p:h") or vim.fn.getcwd()
    root = root:gsub("/%.git/?$", "")
    -- The project's own rxpolicy when it has a .venv, else the one on the PATH.
    local venv = root .. "/.venv/bin/rxpolicy"
    local cmd = vim.fn.executable(venv) == 1 and venv or "rxpolicy"
    if not clients[root] then
      clients[root] = vim.lsp.start_client({ name = "rxpolicy", cmd = { cmd, "lsp" }, root_dir = root })
    end
    vim.lsp.buf_attach_client(args.buf, clients[root])
  end,
})
