//! The message store: CommitLog segments, ConsumeQueues, IndexFiles, checkpoint, flush and recovery,
//! laid out on disk exactly as the Java broker lays them out so a store directory can move between
//! the two implementations. No networking lives here.
