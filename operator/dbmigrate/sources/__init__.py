"""Where migrations come from: SQL directories, framework projects, and detecting which one we have."""
