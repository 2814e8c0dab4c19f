# One image for every wa-campaigns service: the command picks the role (worker, ingest, emulator).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY drizzle ./drizzle
COPY tsconfig.json ./
USER node
ENTRYPOINT ["node", "bin/wa-campaigns.js"]
CMD ["--help"]
