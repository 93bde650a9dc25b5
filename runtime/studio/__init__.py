"""`l2m-edge studio`: live editing in the browser, the viewer's own webcam or the server's camera.

`server` (aiohttp: the page and one WebSocket per client), `session` (one client's stream state
on the shared model), `protocol` (frames, controls, limits), `security` (token, TLS) and
`static/` (the page: plain HTML, CSS and a JS module, nothing fetched from elsewhere).
"""
