"""The reviewers' side: decisions on change sets (approve, reject, edit, resolve, revert), the notices that tell agents, the digest."""
