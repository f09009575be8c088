// FakeStream: a hand-written gw::StreamCallbacks for driving one filter directly. It records
// resumes, local replies and response calls instead of running a chain (STYLE.md §9: fakes,
// not a mock framework).
#pragma once

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "gateway/config/load.h"
#include "gateway/core/config.h"
#include "gateway/core/filter.h"
#include "gateway/core/router.h"
#include "gateway/server/worker.h"

namespace gwtest {

class FakeStream final : public gw::StreamCallbacks {
  public:
    explicit FakeStream(std::string generated_id = "generated-id-0001")
        : generated_id_(std::move(generated_id)) {}

    gw::RequestHead& request() override { return request_; }
    gw::StreamInfo& info() override { return info_; }
    const std::string& request_id() override {
        if (info_.request_id.empty()) {
            info_.request_id = generated_id_;
            ++ids_generated;
        }
        return info_.request_id;
    }
    const gw::Route* route() const override { return nullptr; }
    const gw::RouteCaptures& captures() const override { return captures_; }
    const gw::Config& config() const override { return config_; }
    event_base* event_loop() override { return worker().base(); }
    // A real worker (never started), made on first use.
    gw::Worker& worker() override {
        if (!worker_) worker_ = std::make_unique<gw::Worker>(0, nullptr);
        return *worker_;
    }

    void resume_request() override { ++request_resumes; }
    void resume_response() override { ++response_resumes; }
    gw::AsyncHandle defer(std::function<void()> fn) override {
        return tasks_.defer(event_loop(), std::move(fn));
    }
    gw::AsyncHandle start_timer(gw::Duration d, std::function<void()> fn) override {
        return tasks_.timer(event_loop(), d, std::move(fn));
    }
    void send_local_reply(int status, std::string_view detail) override {
        local_replies.push_back(std::to_string(status) + " " + std::string(detail));
    }
    void send_local_response(gw::ResponseHead head, std::string body) override {
        local_replies.push_back(std::to_string(head.status) + " " + body);
    }
    void send_response_head(gw::ResponseHead head, bool end_stream) override {
        response_heads.push_back(std::move(head));
    }
    void send_response_data(evbuffer* data, bool end_stream) override {
        evbuffer_drain(data, evbuffer_get_length(data));
    }
    void send_response_trailers(gw::Headers trailers) override { ++trailers_sent; }
    void send_interim_head(const gw::ResponseHead& head) override { ++interim_heads; }
    size_t downstream_buffered() const override { return 0; }
    bool downstream_full() override { return false; }
    void want_request_body() override {}
    void pause_request_body(bool paused) override {}

    // What the filter did to its stream.
    int request_resumes = 0;
    int response_resumes = 0;
    int ids_generated = 0;
    int trailers_sent = 0;
    int interim_heads = 0;
    std::vector<std::string> local_replies;
    std::vector<gw::ResponseHead> response_heads;

    // True when the filter only changed headers and let the chain run on.
    bool untouched() const {
        return request_resumes == 0 && response_resumes == 0 && local_replies.empty() &&
               response_heads.empty() && trailers_sent == 0 && interim_heads == 0;
    }

  private:
    std::string generated_id_;
    gw::RequestHead request_;
    gw::StreamInfo info_;
    gw::RouteCaptures captures_;
    gw::Config config_;
    std::unique_ptr<gw::Worker> worker_;
    gw::AsyncTasks tasks_;  // after worker_: cancelled before the loop goes
};

// Loads `toml` (listener and route added) and returns the factory of [filter.<name>].
inline std::shared_ptr<const gw::FilterFactory> filter_from_config(const std::string& toml,
                                                                   const std::string& name) {
    gw::ConfigErrors errors("t.toml");
    auto cfg = gw::load_config_text(
        "[[listener]]\naddress = \"127.0.0.1:0\"\n[[route]]\nrespond = {}\n" + toml, "t.toml",
        "/nonexistent", errors);
    INFO(errors.format());
    REQUIRE(cfg);
    auto it = cfg->filters.find(name);
    REQUIRE(it != cfg->filters.end());
    REQUIRE(it->second.factory);
    return it->second.factory;
}

// "name: value" per field, in order.
inline std::vector<std::string> dump(const gw::Headers& h) {
    std::vector<std::string> out;
    for (const auto& f : h)
        out.push_back(f.name + ": " + f.value);
    return out;
}

}  // namespace gwtest
