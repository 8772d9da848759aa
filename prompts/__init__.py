"""The prompt templates, shipped inside the wheel as `rag._prompts`; edit the .md files."""
