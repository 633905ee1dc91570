//! Home of the criterion benchmarks that compare mini-orm with rusqlite and mysql_async doing the
//! same work. The benchmark targets arrive with the benchmarks issue; until then this package
//! only reserves its place in the workspace.
