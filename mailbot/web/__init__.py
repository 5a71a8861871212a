"""The reviewers' web console: server-rendered pages (Starlette + Jinja2 under uvicorn) over the same
review core the `mailbot review` commands call.

Modules: `routes` (every route as data, with who may open it), `app` (the application, its security
headers and the guard every route goes through), `security` (cookies, CSRF, hashes), `accounts`
(reviewers, sign-in links, sessions), `present` (pure: French labels, word diffs, chart geometry),
`message_view` (pure: an agent's message as text and its attachments), `warnings` (plausibility
warnings, one function), the views (`views_*`), `server` (uvicorn).
"""
