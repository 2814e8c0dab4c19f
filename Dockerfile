# One image for every wa-campaigns service: the command picks the role (worker, ingest, emulator).
# Node 24, an LTS line supported until April 2028 (Node 20 reached its end of life in April 2026).

# Build stage: the TypeScript compiler and the other development packages stay here.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No scripts yet: `prepare` would build before the sources are copied.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY bin ./bin
COPY drizzle ./drizzle
COPY --from=build /app/dist ./dist
USER node
ENTRYPOINT ["node", "bin/wa-campaigns.js"]
CMD ["--help"]
