//! One module per subcommand of `jackal-bench`, each with its `Args` and its `run`.

pub mod api;
pub mod bodies;
pub mod crash;
pub mod fleet;
pub mod floor;
pub mod lists;
pub mod load;
pub mod run;
pub mod ssh;
