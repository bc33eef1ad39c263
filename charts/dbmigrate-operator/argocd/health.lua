-- Argo CD health check for dbmigrate.io/DatabaseMigration. Install it under the argocd-cm key
--   resource.customizations.health.dbmigrate.io_DatabaseMigration
-- (docs/argocd.md). Without it Argo CD calls any custom resource Healthy at once, so a sync wave would not wait
-- for the migration. A copy lives in docs/argocd-health.lua; tests/packaging keeps the two identical.
--
-- Order matters:
-- 1. A status written for an older generation says nothing about the current spec: Progressing. Likewise a
--    dbmigrate.io/retry value the operator has not recorded in status.retryToken yet (annotations move no
--    generation): the old outcome must not pass a wave (Healthy) or fail the sync (Degraded).
-- 2. Ready=True for the current generation: Healthy.
-- 3. Failed, RolledBack, Blocked need a person: Degraded (this fails a sync at once, so only for these).
-- 4. AwaitingApproval waits for the dbmigrate.io/approved-plan annotation: Suspended.
-- 5. Everything else is under way — including retries of a busy or unreachable database and a Secret or
--    ConfigMap that does not exist yet (Stalled=True, but looked for again): Progressing.
local hs = {}

local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local generation = obj.metadata.generation
if obj.status == nil or obj.status.observedGeneration == nil or obj.status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local retry = (obj.metadata.annotations or {})["dbmigrate.io/retry"]
if retry ~= nil and retry ~= obj.status.retryToken then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to take up dbmigrate.io/retry=" .. tostring(retry)
  return hs
end

local phase = obj.status.phase or "Pending"
local message = obj.status.message or ""
local ready = condition("Ready")
local stalled = condition("Stalled")

if ready ~= nil and ready.status == "True"
    and (ready.observedGeneration == nil or ready.observedGeneration == generation) then
  hs.status = "Healthy"
elseif phase == "Failed" or phase == "RolledBack" or phase == "Blocked" then
  hs.status = "Degraded"
elseif phase == "AwaitingApproval" then
  hs.status = "Suspended"
elseif stalled ~= nil and stalled.status == "True" then
  hs.status = "Progressing"
  message = "stalled, retrying: " .. message
else
  hs.status = "Progressing"
end
hs.message = phase .. ": " .. message
return hs
