// RAII owners for every C handle we use from libevent, OpenSSL and nghttp2. Each alias is a
// unique_ptr with a stateless deleter templated on the C free function.
#pragma once

#include <memory>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

namespace gw {

template <auto FreeFn>
struct CDeleter {
    template <typename T>
    void operator()(T* p) const noexcept {
        if (p) FreeFn(p);
    }
};

template <typename T, auto FreeFn>
using CPtr = std::unique_ptr<T, CDeleter<FreeFn>>;

using EventBasePtr = CPtr<event_base, &event_base_free>;
using EventPtr = CPtr<event, &event_free>;
using BuffereventPtr = CPtr<bufferevent, &bufferevent_free>;
using EvbufferPtr = CPtr<evbuffer, &evbuffer_free>;
using ListenerPtr = CPtr<evconnlistener, &evconnlistener_free>;

inline EvbufferPtr make_evbuffer() {
    return EvbufferPtr(evbuffer_new());
}

}  // namespace gw
