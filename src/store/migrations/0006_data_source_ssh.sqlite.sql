-- A data source's SSH tunnel secrets (its private key and passphrase, or password), sealed like
-- its password (AES-256-GCM, bound to the data source's id), and what may be shown of them:
-- how the tunnel logs in and the client public key, as JSON, never the secret.

ALTER TABLE data_source ADD COLUMN ssh_secret_enc BLOB;
ALTER TABLE data_source ADD COLUMN ssh_auth TEXT;
