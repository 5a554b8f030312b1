// Package lolrmm turns the LOLRMM catalog (https://lolrmm.io, github.com/magicsword-io/LOLRMM: one
// YAML file per remote-monitoring or remote-access tool) into Sigma rules that Vigil's engine
// loads: per tool and operating system a process_creation rule (executable names, PE original
// file names, installation folders) and per tool a network_connection rule (relay and
// rendezvous host names, IP addresses, tool-specific ports).
//
// The catalog is written by hand and its values are not Sigma: regex fragments in host names,
// %APPDATA%-style variables, doubled backslashes, globs in odd places, placeholders such as
// "user_managed" or "<string ID>", generic names such as setup.exe. Each value is rewritten into
// a correct Sigma value or dropped with a recorded reason (Result.Skipped), never copied
// literally. Output is deterministic (stable UUIDv5 ids, sorted values) so re-imports diff
// cleanly, and every rule keeps LOLRMM's authors and its Apache-2.0 licence.
package lolrmm
