# syntax=docker/dockerfile:1
#
# tlslp images. Targets:
#   server   tlslp-server, listening on 0.0.0.0:1234 (mutual TLS)
#   client   tlslp-client, dialling server:1234
#   runtime  the base of both, with `tlslp` (certs, work, demo) as its entrypoint
#
#   docker build --target server -t tlslp-server .
#   docker build --target client -t tlslp-client .
#
# Certificates are not baked in: mount them at /app/certificates (see compose.yaml and
# docs/guide.md, "Containers"). The server certificate must name the host the client dials,
# e.g. `tlslp certs --host server localhost 127.0.0.1` for a service called `server`.

ARG NODE_VERSION=20

# ---- build: compile TypeScript and the native kernel (compilers and Python are here) ----
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /app
# Dependencies first, so this layer is reused while only sources change. Scripts run below,
# explicitly, once the sources they need are in place.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/build-native.mjs ./scripts/
COPY native/binding.gyp ./native/
COPY native/src ./native/src
COPY wasm/build ./wasm/build
# `npm run build` is the package's `prepare`; build-native.mjs is its `install` script. It
# never fails on its own (the wasm kernel is the fallback), so check that the addon exists:
# this image is meant to have the native kernel.
RUN npm run build \
 && TLSLP_NATIVE_VERBOSE=1 node scripts/build-native.mjs \
 && test -f native/build/Release/tlslp_kernel.node \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime: production dependencies, compiled code and kernels only ----
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY LICENSE package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/wasm/build ./wasm/build
COPY --from=build /app/native/build/Release/tlslp_kernel.node ./native/build/Release/
# The mount point for certificates. Owned by `node`, so that an empty named volume mounted
# here is writable for `tlslp certs` (read-only bind mounts work too).
RUN mkdir -p /app/certificates && chown node:node /app/certificates
# Files under /app stay root-owned: the processes below cannot change their own code.
# Logs go to /home/node/.local/state/tlslp/logs (XDG_STATE_HOME), warnings also to stderr.
USER node
ENTRYPOINT ["node", "dist/cli/tlslp.js"]
CMD ["--help"]

FROM runtime AS client
ENTRYPOINT ["node", "dist/cli/client.js"]
CMD ["--host", "server", "--ports", "1234"]

# Last, so that a plain `docker build .` gives the server.
FROM runtime AS server
EXPOSE 1234
# Mutual TLS on every interface. (--insecure is refused off loopback, on purpose.)
ENTRYPOINT ["node", "dist/cli/server.js"]
CMD ["--host", "0.0.0.0", "--port", "1234"]
