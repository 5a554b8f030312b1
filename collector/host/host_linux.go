package host

import "context"

const defaultHomeRoot = "/home"

func (s *Source) gather(ctx context.Context) (*Inventory, error) { return s.gatherLinux(ctx) }

func (s *Source) neighbors(ctx context.Context) ([]Neighbor, error) { return s.neighborsLinux(ctx) }
