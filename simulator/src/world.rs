//! The simulated world: real airports (IATA code, position, UTC offset, traffic weight) and real
//! carriers with their hubs.

/// An airport the simulator flies between.
#[derive(Debug, Clone, Copy)]
pub struct Airport {
    pub code: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// Standard-time UTC offset in hours; the flight's `date` is the local date of departure.
    pub utc_offset: i32,
    /// Relative share of traffic.
    pub weight: u32,
    /// Terminals passengers see on the board.
    pub terminals: &'static [&'static str],
}

/// An airline and the airports it flies from most.
#[derive(Debug, Clone, Copy)]
pub struct Carrier {
    pub code: &'static str,
    pub hubs: &'static [&'static str],
    /// Tail number prefix (the registration country).
    pub registration: &'static str,
    pub weight: u32,
}

macro_rules! airport {
    ($code:literal, $lat:literal, $lon:literal, $off:literal, $w:literal, [$($t:literal),*]) => {
        Airport { code: $code, lat: $lat, lon: $lon, utc_offset: $off, weight: $w, terminals: &[$($t),*] }
    };
}

pub const AIRPORTS: &[Airport] = &[
    airport!("ATL", 33.6407, -84.4277, -5, 10, ["N", "S"]),
    airport!("ORD", 41.9742, -87.9073, -6, 9, ["1", "2", "3", "5"]),
    airport!("DFW", 32.8998, -97.0403, -6, 9, ["A", "B", "C", "D", "E"]),
    airport!("DEN", 39.8561, -104.6737, -7, 8, ["A", "B", "C"]),
    airport!("LAX", 33.9416, -118.4085, -8, 8, ["1", "2", "3", "4", "5", "6", "7", "8", "B"]),
    airport!("JFK", 40.6413, -73.7781, -5, 7, ["1", "4", "5", "7", "8"]),
    airport!("EWR", 40.6895, -74.1745, -5, 6, ["A", "B", "C"]),
    airport!("LGA", 40.7769, -73.8740, -5, 5, ["A", "B", "C"]),
    airport!("SFO", 37.6213, -122.3790, -8, 6, ["1", "2", "3", "I"]),
    airport!("SEA", 47.4502, -122.3088, -8, 5, ["A", "B", "C", "D", "N", "S"]),
    airport!("BOS", 42.3656, -71.0096, -5, 5, ["A", "B", "C", "E"]),
    airport!("MIA", 25.7959, -80.2870, -5, 5, ["D", "E", "F", "H", "J"]),
    airport!("IAH", 29.9902, -95.3368, -6, 5, ["A", "B", "C", "D", "E"]),
    airport!("PHX", 33.4343, -112.0116, -7, 4, ["3", "4"]),
    airport!("MSP", 44.8848, -93.2223, -6, 4, ["1", "2"]),
    airport!("YYZ", 43.6777, -79.6248, -5, 5, ["1", "3"]),
    airport!("MEX", 19.4361, -99.0719, -6, 4, ["1", "2"]),
    airport!("LHR", 51.4700, -0.4543, 0, 9, ["2", "3", "4", "5"]),
    airport!("CDG", 49.0097, 2.5479, 1, 8, ["1", "2A", "2E", "2F", "3"]),
    airport!("AMS", 52.3105, 4.7683, 1, 7, ["1", "2", "3"]),
    airport!("FRA", 50.0379, 8.5622, 1, 7, ["1", "2"]),
    airport!("MAD", 40.4983, -3.5676, 1, 5, ["1", "2", "4", "4S"]),
    airport!("FCO", 41.8003, 12.2389, 1, 4, ["1", "3"]),
    airport!("MUC", 48.3537, 11.7750, 1, 5, ["1", "2"]),
    airport!("IST", 41.2753, 28.7519, 3, 7, ["I", "D"]),
    airport!("DXB", 25.2532, 55.3657, 4, 8, ["1", "2", "3"]),
    airport!("DOH", 25.2731, 51.6081, 3, 5, ["1"]),
    airport!("DEL", 28.5562, 77.1000, 5, 6, ["1", "2", "3"]),
    airport!("SIN", 1.3644, 103.9915, 8, 6, ["1", "2", "3", "4"]),
    airport!("HKG", 22.3080, 113.9185, 8, 6, ["1", "2"]),
    airport!("HND", 35.5494, 139.7798, 9, 7, ["1", "2", "3"]),
    airport!("NRT", 35.7720, 140.3929, 9, 4, ["1", "2", "3"]),
    airport!("ICN", 37.4602, 126.4407, 9, 5, ["1", "2"]),
    airport!("PEK", 40.0799, 116.6031, 8, 6, ["2", "3"]),
    airport!("SYD", -33.9399, 151.1753, 10, 5, ["1", "2", "3"]),
    airport!("GRU", -23.4356, -46.4731, -3, 5, ["1", "2", "3"]),
    airport!("JNB", -26.1367, 28.2411, 2, 3, ["A", "B"]),
];

macro_rules! carrier {
    ($code:literal, [$($h:literal),*], $reg:literal, $w:literal) => {
        Carrier { code: $code, hubs: &[$($h),*], registration: $reg, weight: $w }
    };
}

pub const CARRIERS: &[Carrier] = &[
    carrier!("DL", ["ATL", "MSP", "JFK", "LAX", "SEA", "BOS"], "N", 10),
    carrier!("AA", ["DFW", "MIA", "ORD", "PHX", "LAX", "JFK"], "N", 10),
    carrier!("UA", ["ORD", "DEN", "EWR", "SFO", "IAH", "LAX"], "N", 10),
    carrier!("WN", ["DEN", "PHX", "ATL", "LAX", "ORD"], "N", 8),
    carrier!("B6", ["JFK", "BOS", "EWR", "LGA"], "N", 4),
    carrier!("AS", ["SEA", "SFO", "LAX"], "N", 3),
    carrier!("AC", ["YYZ"], "C-", 3),
    carrier!("AM", ["MEX"], "XA-", 2),
    carrier!("BA", ["LHR"], "G-", 5),
    carrier!("AF", ["CDG"], "F-", 5),
    carrier!("KL", ["AMS"], "PH-", 4),
    carrier!("LH", ["FRA", "MUC"], "D-", 5),
    carrier!("IB", ["MAD"], "EC-", 2),
    carrier!("AZ", ["FCO"], "EI-", 2),
    carrier!("TK", ["IST"], "TC-", 4),
    carrier!("EK", ["DXB"], "A6-", 4),
    carrier!("QR", ["DOH"], "A7-", 3),
    carrier!("AI", ["DEL"], "VT-", 2),
    carrier!("SQ", ["SIN"], "9V-", 3),
    carrier!("CX", ["HKG"], "B-", 3),
    carrier!("NH", ["HND", "NRT"], "JA", 3),
    carrier!("KE", ["ICN"], "HL", 2),
    carrier!("CA", ["PEK"], "B-", 3),
    carrier!("QF", ["SYD"], "VH-", 2),
    carrier!("LA", ["GRU"], "PR-", 2),
    carrier!("SA", ["JNB"], "ZS-", 1),
];

/// Looks an airport up by code.
pub fn airport(code: &str) -> Option<&'static Airport> {
    AIRPORTS.iter().find(|a| a.code == code)
}

/// Great-circle distance in nautical miles.
pub fn distance_nm(a: &Airport, b: &Airport) -> f64 {
    let (la1, lo1, la2, lo2) = (a.lat.to_radians(), a.lon.to_radians(), b.lat.to_radians(), b.lon.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2) + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 3440.065 * h.sqrt().asin()
}

/// Initial great-circle course from `a` to `b`, degrees 0–360.
pub fn bearing_deg(a: &Airport, b: &Airport) -> f64 {
    let (la1, la2, dlon) = (a.lat.to_radians(), b.lat.to_radians(), (b.lon - a.lon).to_radians());
    let y = dlon.sin() * la2.cos();
    let x = la1.cos() * la2.sin() - la1.sin() * la2.cos() * dlon.cos();
    (y.atan2(x).to_degrees() + 360.0) % 360.0
}

/// The point a fraction `f` (0–1) of the way from `a` to `b` along the great circle, as (lat, lon).
pub fn along(a: &Airport, b: &Airport, f: f64) -> (f64, f64) {
    let (la1, lo1, la2, lo2) = (a.lat.to_radians(), a.lon.to_radians(), b.lat.to_radians(), b.lon.to_radians());
    let d = distance_nm(a, b) / 3440.065;
    if d < 1e-9 {
        return (a.lat, a.lon);
    }
    let (s1, s2) = (((1.0 - f) * d).sin() / d.sin(), (f * d).sin() / d.sin());
    let x = s1 * la1.cos() * lo1.cos() + s2 * la2.cos() * lo2.cos();
    let y = s1 * la1.cos() * lo1.sin() + s2 * la2.cos() * lo2.sin();
    let z = s1 * la1.sin() + s2 * la2.sin();
    let lat = z.atan2((x * x + y * y).sqrt()).to_degrees();
    let lon = y.atan2(x).to_degrees();
    (lat.clamp(-90.0, 90.0), lon.clamp(-180.0, 180.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hub_is_a_known_airport_and_codes_are_valid() {
        for c in CARRIERS {
            assert!(contrail_shared::domain::Carrier::parse(c.code).is_ok(), "{}", c.code);
            for h in c.hubs {
                assert!(airport(h).is_some(), "{} hub {h}", c.code);
            }
        }
        for a in AIRPORTS {
            assert!(contrail_shared::domain::Airport::parse(a.code).is_ok(), "{}", a.code);
        }
    }

    #[test]
    fn distances_match_the_real_world() {
        let (jfk, lhr) = (airport("JFK").unwrap(), airport("LHR").unwrap());
        let d = distance_nm(jfk, lhr);
        assert!((2980.0..3000.0).contains(&d), "{d}");
        let mid = along(jfk, lhr, 0.5);
        assert!(mid.0 > 50.0 && mid.1 < -30.0 && mid.1 > -45.0, "{mid:?}");
    }
}
