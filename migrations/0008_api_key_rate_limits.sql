-- Rate limits per API key (SPEC §8): the key's requests per minute, set when it is created; NULL:
-- the deployment's default (RATE_LIMIT_PER_MINUTE). Enforced by one Durable Object per key.
ALTER TABLE api_keys ADD COLUMN rate_limit_per_minute INTEGER CHECK (rate_limit_per_minute IS NULL OR rate_limit_per_minute >= 1);
