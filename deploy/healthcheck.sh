#!/bin/sh
# The image's HEALTHCHECK for either role: ready to serve, as /readyz says (docs/deploy.md, "Health"). A node is
# ready while it reaches Redis and is not shutting down; a balancer while it has a node in rotation and is not
# shutting down. (/livez, which says only that the event loops run, is for an orchestrator that restarts.)
curl -fsS -o /dev/null "http://127.0.0.1:${CHAT_OPS_PORT:-9101}/readyz" 2>/dev/null && exit 0
curl -fsS -o /dev/null "http://127.0.0.1:${BALANCER_ADMIN_PORT:-9000}/readyz" 2>/dev/null && exit 0
exit 1
