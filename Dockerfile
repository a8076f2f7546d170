# syntax=docker/dockerfile:1
# One image for api, worker and cli: `docker run IMAGE api|worker|cli …`.
# The build runs the same commands as scripts/test.sh: pnpm install
# --frozen-lockfile, then pnpm build.
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
RUN npm install -g pnpm@12.4.2
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
COPY packages/schemas/package.json packages/schemas/
COPY packages/client/package.json packages/client/
COPY packages/core/package.json packages/core/
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/cli/package.json apps/cli/
RUN pnpm install --frozen-lockfile
COPY . .
RUN pnpm build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
COPY packages/schemas/package.json packages/schemas/
COPY packages/client/package.json packages/client/
COPY packages/core/package.json packages/core/
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/cli/package.json apps/cli/
RUN npm install -g pnpm@12.4.2 \
 && pnpm install --frozen-lockfile --prod \
 && npm uninstall -g pnpm && npm cache clean --force
COPY packages/core/sql packages/core/sql
COPY --from=build /app/packages/schemas/dist packages/schemas/dist
COPY --from=build /app/packages/client/dist packages/client/dist
COPY --from=build /app/packages/core/dist packages/core/dist
COPY --from=build /app/apps/api/dist apps/api/dist
COPY --from=build /app/apps/worker/dist apps/worker/dist
COPY --from=build /app/apps/cli/dist apps/cli/dist
COPY apps/cli/bin apps/cli/bin
COPY scripts/docker-entrypoint.sh /usr/local/bin/kdb
RUN mkdir -p /models && chown node:node /models
USER node
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/kdb"]
CMD ["api"]
