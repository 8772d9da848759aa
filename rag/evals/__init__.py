"""Evaluation on a user's own data: QA datasets (`rag eval`) and BEIR retrieval (`rag eval-retrieval`)."""
