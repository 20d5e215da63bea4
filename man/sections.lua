-- A pandoc filter that makes a man page out of README.md (the one source of
-- the prose) and a few small markdown files:
--   sections: README headings to keep; each is kept up to the next heading
--             and becomes a man section (.SH), in the README's order;
--   prepend, append: markdown files put before and after them (NAME,
--             SYNOPSIS, the OPTIONS a binary writes from its CLI11
--             definition, SEE ALSO).
-- Links into the README (#anchor) keep their text only. A section named
-- that the README lacks is an error, so a renamed heading breaks the build
-- rather than the page.
local function read_markdown(path)
  local file = assert(io.open(path, "r"))
  local text = file:read("a")
  file:close()
  return pandoc.read(text, "markdown-smart").blocks
end

local function list(meta_value)
  local out = {}
  if meta_value == nil then return out end
  if meta_value.t == "MetaList" or (type(meta_value) == "table" and meta_value[1]) then
    for _, v in ipairs(meta_value) do table.insert(out, pandoc.utils.stringify(v)) end
  else
    table.insert(out, pandoc.utils.stringify(meta_value))
  end
  return out
end

-- A README table as a definition list: the first column is the term, the
-- others (named by their header when there are several) its text. A man
-- page is 80 columns wide, and tbl cannot fit the README's wide tables in.
local function table_as_list(tbl)
  local simple = pandoc.utils.to_simple_table(tbl)
  local items = {}
  for _, row in ipairs(simple.rows) do
    local term = pandoc.utils.blocks_to_inlines(row[1])
    local text = {}
    for i = 2, #row do
      local inlines = pandoc.utils.blocks_to_inlines(row[i])
      if #row > 2 then
        local name = pandoc.utils.stringify(simple.headers[i] or {})
        if name ~= "" then
          table.insert(inlines, 1, pandoc.Space())
          table.insert(inlines, 1, pandoc.Str(name .. ":"))
        end
      end
      table.insert(text, pandoc.Para(inlines))
    end
    table.insert(items, { term, { text } })
  end
  return pandoc.DefinitionList(items)
end

function Pandoc(doc)
  local wanted, found = {}, {}
  for _, name in ipairs(list(doc.meta.sections)) do wanted[name] = true end
  local kept = {}
  local keeping = false
  for _, block in ipairs(doc.blocks) do
    if block.t == "Header" then
      local text = pandoc.utils.stringify(block.content)
      keeping = wanted[text] == true
      if keeping then
        found[text] = true
        block.level = 1
        block.content = { pandoc.Str(text:upper()) }
      end
    end
    if keeping then table.insert(kept, block) end
  end
  for name in pairs(wanted) do
    if not found[name] then
      error("README.md has no section \"" .. name .. "\" (man/sections.lua)")
    end
  end
  local blocks = {}
  for _, path in ipairs(list(doc.meta.prepend)) do
    for _, b in ipairs(read_markdown(path)) do table.insert(blocks, b) end
  end
  for _, b in ipairs(kept) do table.insert(blocks, b) end
  for _, path in ipairs(list(doc.meta.append)) do
    for _, b in ipairs(read_markdown(path)) do table.insert(blocks, b) end
  end
  blocks = pandoc.walk_block(pandoc.Div(blocks), {
    Table = table_as_list,
    Link = function(link)
      if link.target:sub(1, 1) == "#" then return link.content end
    end,
  }).content
  doc.meta.sections = nil
  doc.meta.prepend = nil
  doc.meta.append = nil
  return pandoc.Pandoc(blocks, doc.meta)
end
