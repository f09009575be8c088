// Pooled<T>: class-level operator new/delete that recycle blocks of sizeof(T) through a
// per-thread free list. For objects made and dropped per request or per connection (streams,
// codecs), so the hot path does not go through malloc. Blocks return to the heap when the
// thread ends.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace gw {

template <typename T, size_t kMax = 256>
class Pooled {
  public:
    static void* operator new(size_t size) {
        auto& blocks = list().blocks;
        if (size == sizeof(T) && !blocks.empty()) {
            void* p = blocks.back();
            blocks.pop_back();
            return p;
        }
        return ::operator new(size);
    }
    static void operator delete(void* p, size_t size) noexcept {
        auto& blocks = list().blocks;
        if (size == sizeof(T) && blocks.size() < kMax) {
            blocks.push_back(p);
            return;
        }
        ::operator delete(p);
    }

  private:
    struct FreeList {
        std::vector<void*> blocks;
        ~FreeList() {
            for (void* p : blocks)
                ::operator delete(p);
        }
    };
    static FreeList& list() {
        thread_local FreeList l;
        return l;
    }
};

}  // namespace gw
