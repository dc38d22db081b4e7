#!/bin/sh
# The image's HEALTHCHECK for either role: alive, as /livez says (docs/deploy.md, "Health"): every event loop runs.
# Not /readyz: Swarm, ECS and Nomad replace unhealthy containers, and a node must not be restarted because Redis is
# failing over, nor a balancer because no node is up. The ports are the environment's (CHAT_OPS_PORT,
# BALANCER_ADMIN_PORT): set them when a configuration file moves a port.
curl -fsS -o /dev/null "http://127.0.0.1:${CHAT_OPS_PORT:-9101}/livez" 2>/dev/null && exit 0
curl -fsS -o /dev/null "http://127.0.0.1:${BALANCER_ADMIN_PORT:-9000}/livez" 2>/dev/null && exit 0
exit 1
