-- MARIADB_TLS's mutual-TLS account, as scripts/test-databases makes it: the test password and a
-- client certificate of the test CA whose subject is the test user (scripts/test-certs).
CREATE USER 'jackal_cert'@'%' IDENTIFIED BY 'jackal-test-pw-1'
    REQUIRE SUBJECT '/CN=jackal_test' AND ISSUER '/CN=Jackal test CA';
GRANT ALL PRIVILEGES ON `jackal_test`.* TO 'jackal_cert'@'%';
