"""Migration safety checks: finding destructive or risky changes in migration SQL before it runs."""
