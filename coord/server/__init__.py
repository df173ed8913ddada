"""The coord server: a ZooKeeper-compatible coordination server (standalone mode).

Pipeline, as in ZooKeeper: prep (`prep.PrepView`, request -> txn) -> log and fsync
(`txnlog`) -> apply (`datatree.DataTree.apply`, pure, zxid order) -> reply
(`connection`). A ZAB quorum can later be inserted between prep and apply.
"""
