-- wrk: `args[1]` GETs written at once on each connection (HTTP/1.1 pipelining).
init = function(args)
  local r = {}
  for i = 1, tonumber(args[1]) do r[i] = wrk.format(nil) end
  batch = table.concat(r)
end
request = function() return batch end
