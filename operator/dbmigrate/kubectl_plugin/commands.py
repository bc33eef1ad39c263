"""One function per ``kubectl dbmigrate`` action: read the resource, act, return the lines to print.

The operator decides everything else: these only record a person's decision (approve, reject, retry) in the
annotations it watches, which wake it at once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dbmigrate.kubectl_plugin import render, resources


def status(migrations: resources.Migrations, name: str, *, now: datetime) -> list[str]:
    return render.status_report(migrations.get(name), now=now)


def plan(migrations: resources.Migrations, name: str) -> list[str]:
    return render.plan_report(migrations.get(name))


def approve(migrations: resources.Migrations, name: str, *, expected_hash: str | None) -> list[str]:
    """Approve the plan in ``status.plan.hash`` — only if it is ``expected_hash`` when given (the plan that was
    reviewed). The write is conditional on the version read, so a plan that changes meanwhile is not approved."""
    obj = migrations.get(name)
    current = ((obj.get("status") or {}).get("plan") or {}).get("hash")
    if not current:
        raise resources.PluginError(f"databasemigration {name} has no plan to approve yet")
    if expected_hash is not None and expected_hash != current:
        raise resources.PluginError(
            f"the current plan of {name} is {current}, not {expected_hash}: review it again (kubectl dbmigrate plan)"
        )
    migrations.annotate(obj, {resources.APPROVED_PLAN: current, resources.REJECTED_PLAN: None})
    return [f"databasemigration.dbmigrate.io/{name} approved plan {current}"]


def reject(migrations: resources.Migrations, name: str) -> list[str]:
    """Withdraw any approval and record which plan was rejected (an audit trail for GitOps reviews)."""
    obj = migrations.get(name)
    status = obj.get("status") or {}
    current = (status.get("plan") or {}).get("hash")
    if not current:
        raise resources.PluginError(f"databasemigration {name} has no plan to reject")
    migrations.annotate(obj, {resources.APPROVED_PLAN: None, resources.REJECTED_PLAN: current})
    lines = [f"databasemigration.dbmigrate.io/{name} rejected plan {current}"]
    phase = status.get("phase")
    if phase == "Migrating":  # the operator recalls an attempt whose Job has not started, never a running one
        lines.append("⚠ it is Migrating: a migrate Job already started runs to its end; one not started yet is not")
    elif phase in ("Verifying", "Succeeded"):
        lines.append(f"⚠ it is already {phase}: the rejection no longer stops this run")
    return lines


def retry(migrations: resources.Migrations, name: str, *, now: datetime) -> list[str]:
    """A new ``dbmigrate.io/retry`` token: the operator starts a new run (once any migrate Job has finished)."""
    token = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    migrations.annotate(migrations.get(name), {resources.RETRY: token})
    return [f"databasemigration.dbmigrate.io/{name} retry requested ({resources.RETRY}={token})"]


def logs(migrations: resources.Migrations, name: str, *, step: str | None) -> tuple[list[str], list[str]]:
    """The newest Job pod's log (lines for stdout) and notes (for stderr).

    When the API server cannot fetch the log from the node (no kubelet log endpoint, node gone), the container's
    termination message — the CLI's JSON summary — is shown instead, with a note saying so."""
    obj = migrations.get(name)
    job = migrations.latest_job(obj, step=step)
    if job is None:
        which = f" for step {step}" if step else ""
        raise resources.PluginError(f"databasemigration {name} has no Job{which} yet")
    job_name = job["metadata"]["name"]
    pod = migrations.latest_pod(job_name)
    if pod is None:
        raise resources.PluginError(f"Job {job_name} has no pod (yet, or any more)")
    pod_name = pod["metadata"]["name"]
    try:
        return [migrations.pod_log(pod_name).rstrip("\n")], [f"# Job {job_name}, pod {pod_name}"]
    except resources.PluginError as error:
        message = _termination_message(pod)
        if message is None:
            raise
        notes = [f"# the log of pod {pod_name} is unavailable ({error}); its termination message follows"]
        return [message], notes


def _termination_message(pod: resources.Obj) -> str | None:
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        terminated = (container.get("state") or {}).get("terminated") or {}
        if container.get("name") == resources.JOB_CONTAINER and terminated.get("message"):
            return str(terminated["message"])
    return None
