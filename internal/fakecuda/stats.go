package fakecuda

// Stats counts what the fake driver holds, over all its contexts. Its
// fields are uint64 only, in the order of fakecu_stats's counters, which
// ReadStats reads into it.
type Stats struct {
	Allocations     uint64 // live device allocations
	Bytes           uint64 // device bytes allocated
	HostAllocations uint64 // live page-locked host allocations
	Modules         uint64
	Streams         uint64
	Events          uint64
	Graphs          uint64
	GraphExecs      uint64
	Contexts        uint64 // primary contexts alive
	References      uint64 // references to primary contexts (retains less releases)
}
