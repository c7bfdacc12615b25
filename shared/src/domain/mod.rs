//! The domain: validated codes, the flight event and its snapshots. No transport or storage types here.

mod codes;
mod event;

pub use codes::{Airport, Carrier, FlightId, FlightNumber, InvalidCode, parse_date};
pub use event::{FlightEvent, FlightStatus, Position, Removal, Snapshot, to_micros};
