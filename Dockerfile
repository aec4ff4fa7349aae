# Switchboard container image. Build: docker build -t switchboard .
# Run:   docker run -d -p 3000:3000 -v switchboard-data:/app/data --env-file .env switchboard

# ---- build stage: compile better-sqlite3 and the TypeScript ------------------------------------------
FROM node:22-bookworm-slim AS build

# better-sqlite3 builds its native module with node-gyp when no prebuilt binary is available.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# The sources come before `npm ci` because its "prepare" script runs the TypeScript build.
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm ci --no-audit --no-fund
RUN npm run build
# Drop dev dependencies; --ignore-scripts keeps "prepare" from running again.
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime stage ----------------------------------------------------------------------------------
FROM node:22-bookworm-slim

ENV DATA_DIR=/app/data NODE_ENV=production PORT=3000
WORKDIR /app

# Application files stay owned by root (read-only for the node user); only /app/data is writable.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bxml-templates ./bxml-templates
# The console's pages and modules are served as written (src/console/assets-dir.ts): no build step.
COPY src/console/assets ./src/console/assets

RUN mkdir -p /app/data && chown node:node /app/data
USER node
VOLUME ["/app/data"]

EXPOSE 3000

# Slim images have no curl: use Node's built-in fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["node", "dist/cli/main.js", "serve"]
