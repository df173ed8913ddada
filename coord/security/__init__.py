"""coord's security: TLS on the client and quorum ports, SASL DIGEST-MD5, JAAS files.

Settings keep ZooKeeper's own names (`secureClientPort`, `ssl.keyStore.location`,
`sslQuorum`, `quorum.auth.enableSasl`, ...) so a ZooKeeper operator's configuration
carries over. This package builds contexts and runs authentication exchanges; it must
never decide what an authenticated identity may do (that is coord.server.acl's job).
"""
