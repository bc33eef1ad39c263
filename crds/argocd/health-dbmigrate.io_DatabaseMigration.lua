-- Argo CD health for dbmigrate.io/DatabaseMigration. Install under the argocd-cm key
--   resource.customizations.health.dbmigrate.io_DatabaseMigration
-- Without it Argo CD calls any custom resource Healthy at once, and a sync wave would not wait for the migration.
-- Transient states (retries, a Secret not created yet) read Progressing: Degraded fails a sync (or hook) at once.
local hs = {}
if obj.status == nil or obj.status.observedGeneration == nil
    or obj.metadata.generation ~= obj.status.observedGeneration then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(obj.metadata.generation)
  return hs
end
local phase = obj.status.phase or "Pending"
local message = obj.status.message or ""
if phase == "Succeeded" then
  hs.status = "Healthy"
elseif phase == "AwaitingApproval" then
  hs.status = "Suspended"
elseif phase == "Failed" or phase == "RolledBack" or phase == "Blocked" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
hs.message = phase .. ": " .. message
return hs
