-- wrk script: GET pages as many signed-in people, each with their own session cookie.
-- $COOKIES names a file of lines "PATH COOKIE" (one signed-in member each, PATH the page
-- their cookie was captured on). $PICK chooses which one each request is:
--   rotate  every request takes the next line (each session comes back a few hundred
--           requests later); the threads start at different places in the list
--   random  a random page (team), then a random one of its members' cookies
local pages, by_page, lines = {}, {}, {}
local file = assert(os.getenv("COOKIES"), "COOKIES names the cookie file")
for line in io.lines(file) do
  local path, cookie = line:match("^(%S+)%s+(%S+)$")
  if path then
    if not by_page[path] then
      by_page[path] = {}
      pages[#pages + 1] = path
    end
    table.insert(by_page[path], cookie)
    lines[#lines + 1] = { path, cookie }
  end
end
assert(#lines > 0, "no cookies in " .. file)
local pick = os.getenv("PICK") or "rotate"
assert(pick == "rotate" or pick == "random", "PICK is rotate or random")

local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local next_line
function init(args)
  id = id or 0
  next_line = math.floor(id * 0.618034 * #lines) % #lines -- threads apart in the list
  math.randomseed(os.time() + 1000 * id)
end

function request()
  local path, cookie
  if pick == "rotate" then
    next_line = next_line % #lines + 1
    path, cookie = lines[next_line][1], lines[next_line][2]
  else
    path = pages[math.random(#pages)]
    local cookies = by_page[path]
    cookie = cookies[math.random(#cookies)]
  end
  wrk.headers["Cookie"] = cookie
  return wrk.format("GET", path)
end

-- Said at the end, so the caller knows the script ran (a script that fails to load leaves wrk
-- sending its plain request, without a cookie).
function done(summary, latency, requests)
  io.write(string.format("viewers.lua: %d cookies on %d pages, %s\n", #lines, #pages, pick))
end
