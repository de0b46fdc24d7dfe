-- A data source's TLS material sent beside configUri (a client certificate with its private key
-- and the key's password, and CA certificates to trust), sealed like its password (AES-256-GCM,
-- bound to the data source's id and this column), and what may be shown of it: the client
-- certificate's subject, issuer, fingerprint and expiry, and the CA certificates' subjects, as
-- JSON, never the key.

ALTER TABLE data_source ADD COLUMN tls_secret_enc BLOB;
ALTER TABLE data_source ADD COLUMN tls_shown TEXT;
