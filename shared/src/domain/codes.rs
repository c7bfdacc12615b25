//! Validated identifiers: carriers, flight numbers, airports and flight ids.
//!
//! Each type has one constructor that checks the contract, so a value of the type is proof of validity
//! ("parse, don't validate"); everything downstream can rely on it without checking again.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Why a code was refused; the message names the rule, never echoes unbounded input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidCode(pub &'static str);

macro_rules! code_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The code as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidCode;
            fn from_str(s: &str) -> Result<Self, InvalidCode> {
                Self::parse(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

code_type!(
    /// IATA airline designator: two characters, A–Z or 0–9 (`UA`, `B6`).
    Carrier
);
code_type!(
    /// Flight number: one to four digits and an optional one-letter suffix (`1545`, `12A`).
    FlightNumber
);
code_type!(
    /// IATA airport code: three letters A–Z (`EWR`).
    Airport
);
code_type!(
    /// `{carrier}{number}-{date}-{origin}`, e.g. `UA1545-2013-01-01-EWR`: the Kafka key and the primary key.
    FlightId
);

impl Carrier {
    /// Accepts exactly two upper-case letters or digits.
    pub fn parse(s: &str) -> Result<Self, InvalidCode> {
        let b = s.as_bytes();
        if b.len() == 2 && b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidCode("must be 2 characters A-Z or 0-9"))
        }
    }
}

impl FlightNumber {
    /// Accepts 1–4 digits followed by at most one upper-case letter.
    pub fn parse(s: &str) -> Result<Self, InvalidCode> {
        let b = s.as_bytes();
        let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let rest = &b[digits..];
        let suffix_ok = rest.is_empty() || (rest.len() == 1 && rest[0].is_ascii_uppercase());
        if (1..=4).contains(&digits) && suffix_ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidCode("must be 1-4 digits with an optional letter A-Z"))
        }
    }
}

impl Airport {
    /// Accepts exactly three upper-case letters.
    pub fn parse(s: &str) -> Result<Self, InvalidCode> {
        let b = s.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_uppercase) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidCode("must be 3 letters A-Z"))
        }
    }
}

/// Parses a calendar date written exactly as `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<NaiveDate, InvalidCode> {
    const RULE: InvalidCode = InvalidCode("must be a date YYYY-MM-DD");
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err(RULE);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| RULE)
}

impl FlightId {
    /// Derives the id from its parts; the only way to build one from validated pieces.
    pub fn new(carrier: &Carrier, number: &FlightNumber, date: NaiveDate, origin: &Airport) -> Self {
        Self(format!("{carrier}{number}-{}-{origin}", date.format("%Y-%m-%d")))
    }

    /// Derives the id from its parts given as text, each validated as its code.
    pub fn from_codes(carrier: &str, number: &str, date: NaiveDate, origin: &str) -> Result<Self, InvalidCode> {
        Ok(Self::new(&Carrier::parse(carrier)?, &FlightNumber::parse(number)?, date, &Airport::parse(origin)?))
    }

    /// Parses a flight id given as text (a Kafka key, a URL segment).
    pub fn parse(s: &str) -> Result<Self, InvalidCode> {
        const RULE: InvalidCode = InvalidCode("must be {carrier}{number}-{YYYY-MM-DD}-{origin}");
        // Shape: CC + 1-4 digits + optional letter, '-', 10-char date, '-', 3-letter airport.
        if s.len() < 2 + 1 + 1 + 10 + 1 + 3 || !s.is_ascii() {
            return Err(RULE);
        }
        let (flight, tail) = s.split_at(s.len() - 15);
        let tail = tail.as_bytes();
        if tail[0] != b'-' || tail[11] != b'-' {
            return Err(RULE);
        }
        let date_text = std::str::from_utf8(&tail[1..11]).map_err(|_| RULE)?;
        let origin_text = std::str::from_utf8(&tail[12..]).map_err(|_| RULE)?;
        let carrier = Carrier::parse(&flight[..2]).map_err(|_| RULE)?;
        let number = FlightNumber::parse(&flight[2..]).map_err(|_| RULE)?;
        let date = parse_date(date_text).map_err(|_| RULE)?;
        let origin = Airport::parse(origin_text).map_err(|_| RULE)?;
        Ok(Self::new(&carrier, &number, date, &origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_accept_the_contract_and_nothing_else() {
        assert!(Carrier::parse("UA").is_ok());
        assert!(Carrier::parse("B6").is_ok());
        for bad in ["", "U", "ua", "UAL", "U-", "ÜA"] {
            assert!(Carrier::parse(bad).is_err(), "{bad}");
        }
        for good in ["1", "1545", "12A", "0001"] {
            assert!(FlightNumber::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "A", "12345", "12AB", "12a", "1 2"] {
            assert!(FlightNumber::parse(bad).is_err(), "{bad}");
        }
        assert!(Airport::parse("EWR").is_ok());
        for bad in ["EW", "EWRX", "ewr", "E1R"] {
            assert!(Airport::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_must_be_zero_padded_and_real() {
        assert!(parse_date("2013-01-01").is_ok());
        for bad in ["2013-1-01", "2013-02-30", "20130101", "2013-01-01T00:00:00Z", "２０１３-01-01"] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flight_ids_round_trip_through_their_parts() {
        let id = FlightId::parse("UA1545-2013-01-01-EWR").unwrap();
        assert_eq!(id.as_str(), "UA1545-2013-01-01-EWR");
        assert!(FlightId::parse("B612A-2024-02-29-JFK").is_ok());
        for bad in [
            "UA1545-2013-01-01-ewr",
            "UA-2013-01-01-EWR",
            "UA15456-2013-01-01-EWR",
            "UA1545_2013-01-01-EWR",
            "UA1545-2013-02-30-EWR",
            "",
            "ÜA1545-2013-01-01-EWR",
        ] {
            assert!(FlightId::parse(bad).is_err(), "{bad}");
        }
    }
}
