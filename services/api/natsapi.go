package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/batchd/batchd/pkg/bus"
	"github.com/batchd/batchd/pkg/events"
	"github.com/batchd/batchd/services/api/auth"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

const (
	// serviceVersion is the micro service version (semver).
	serviceVersion = "1.0.0"
	// natsConcurrency bounds the NATS requests handled at once per replica.
	natsConcurrency = 1024
	// natsRequestTimeout bounds the handling of one NATS request.
	natsRequestTimeout = 30 * time.Second
)

// startNATS serves every operation as a nats.go/micro endpoint on
// events.APISubject(<Operation>) in a queue group shared by all replicas.
// micro calls a handler from the subscription's single goroutine, so each
// request is handed to its own goroutine (at most natsConcurrency at once)
// to let SubmitJob calls wait for their PubAcks concurrently.
func (s *Server) startNATS(ctx context.Context) (micro.Service, error) {
	svc, err := micro.AddService(s.nc, micro.Config{
		Name:        events.ServiceAPIName,
		Version:     serviceVersion,
		Description: "AWS Batch API of batchd: the same JSON bodies as POST /v1/<operation>",
		QueueGroup:  events.ServiceAPIName,
	})
	if err != nil {
		return nil, fmt.Errorf("add micro service %s: %w", events.ServiceAPIName, err)
	}
	reqCtx := context.WithoutCancel(ctx)
	for _, o := range s.ops {
		h := micro.HandlerFunc(func(req micro.Request) { s.dispatchNATS(reqCtx, o, req) })
		if err := svc.AddEndpoint(o.name, h, micro.WithEndpointSubject(events.APISubject(o.name))); err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("add endpoint %s: %w", o.name, err)
		}
	}
	return svc, nil
}

// dispatchNATS hands a request to a goroutine. Once Close has begun,
// requests still being drained from the subscription are served inline.
func (s *Server) dispatchNATS(ctx context.Context, o *operation, req micro.Request) {
	s.natsMu.RLock()
	if s.natsClosed {
		s.natsMu.RUnlock()
		s.serveNATS(ctx, o, req)
		return
	}
	s.natsWG.Add(1)
	s.natsMu.RUnlock()
	s.natsSem <- struct{}{}
	go func() {
		defer func() { <-s.natsSem; s.natsWG.Done() }()
		s.serveNATS(ctx, o, req)
	}()
}

// serveNATS runs one operation for a NATS request and responds: the JSON
// answer, or the error body with the micro error headers.
func (s *Server) serveNATS(ctx context.Context, o *operation, req micro.Request) {
	ctx = bus.Extract(ctx, nats.Header(req.Headers()))
	ctx, cancel := context.WithTimeout(ctx, natsRequestTimeout)
	defer cancel()
	if s.cfg.Auth != nil {
		if p := s.natsCaller(req.Headers()); p != nil {
			ctx = auth.WithPrincipal(ctx, p)
		}
	}
	out, err := o.invoke(ctx, s.log, req.Data())
	if err == nil {
		if rerr := req.Respond(out); rerr != nil {
			s.log.WarnContext(ctx, "nats respond failed", "operation", o.name, "err", rerr)
		}
		return
	}
	ae := toAPIError(err)
	desc := strings.Join(strings.Fields(ae.Message), " ") // headers cannot carry line breaks
	if rerr := req.Error(strconv.Itoa(ae.Status), desc, errorBody(ae)); rerr != nil {
		s.log.WarnContext(ctx, "nats respond failed", "operation", o.name, "err", rerr)
	}
}

// natsCaller is the credential that sent a NATS request: the NATS server
// stamps a request crossing from a credential's account into the batchd
// account with that account in the Nats-Request-Info header, replacing
// whatever the client put there (nats-server's service imports). Requests
// from inside the batchd account have no caller: no service may call the
// API (their NATS permissions do not allow it).
func (s *Server) natsCaller(h micro.Headers) *auth.Principal {
	raw := nats.Header(h).Get("Nats-Request-Info")
	if raw == "" {
		return nil
	}
	var info struct {
		Account string `json:"acc"`
	}
	if err := json.Unmarshal([]byte(raw), &info); err != nil {
		return nil
	}
	return s.cfg.Auth.Lookup(info.Account)
}
