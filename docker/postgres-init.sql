-- The application's own database and role, beside Temporal's.
CREATE ROLE wa LOGIN PASSWORD 'wa';
CREATE DATABASE wa OWNER wa;
