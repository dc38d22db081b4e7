#!/bin/sh
# The image's HEALTHCHECK for either role: a node answers /health (on its operations port, loopback) with 200 only
# while it reaches Redis; a balancer answers on its admin port.
curl -fsS -o /dev/null "http://127.0.0.1:${CHAT_OPS_PORT:-9101}/health" 2>/dev/null && exit 0
curl -fsS -o /dev/null "http://127.0.0.1:${BALANCER_ADMIN_PORT:-9000}/nodes" 2>/dev/null && exit 0
exit 1
