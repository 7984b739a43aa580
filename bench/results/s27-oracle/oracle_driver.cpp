// Throwaway: how many documents a query would score if the heap's bar were the final one from the start.
#include "seismic_ab_inputs.hpp"  // bench/
#include <spdlog/spdlog.h>
#include <set>
#include <array>
#include <chrono>
#include <cstdio>
namespace aftershock::seismic { extern thread_local float g_exp_floor; extern thread_local int g_exp_perfect; extern thread_local int g_exp_m; extern thread_local float g_exp_beta; extern thread_local int g_exp_docf; extern thread_local int g_exp_casc; extern thread_local float g_exp_cbeta; extern thread_local int g_exp_mf; extern thread_local float g_exp_mbeta; extern thread_local int g_exp_mtop; extern thread_local int g_exp_mpf; extern thread_local float g_exp_gamma; }
using namespace aftershock;
int main(int argc, char** argv) {
    auto shard = ab::read_ab_shard();
    auto& index = *shard.sparse;
    const auto queries = ab::read_ab_queries();
    const std::uint32_t qc = argc > 1 ? std::stoul(argv[1]) : 9;
    std::vector<std::array<float,7>> cfgs;
    for (int i = 2; i < argc; ++i) { float a,b,c,d=0,e=0,f=0,g=0; std::sscanf(argv[i], "%f:%f:%f:%f:%f:%f:%f", &a,&b,&c,&d,&e,&f,&g); cfgs.push_back({a,b,c,d,e,f,g}); }
    const int R = std::getenv("EXP_R") ? std::atoi(std::getenv("EXP_R")) : 1;
    seismic::SearchScratch s;
    const auto nq = queries.n_rows();
    std::vector<std::vector<Hit>> truth(nq);
    for (std::size_t q = 0; q < nq; ++q) truth[q] = index.search_exact(queries.row(q), 10, s);
    {double t=0; for (std::size_t q=0;q<nq;++q) t+=queries.row(q).size(); spdlog::info("exact done, mean query nnz {:.1f}", t/nq);}
    for (int round = 0; round < R; ++round)
    for (const auto& cfg : cfgs) { const float hf = cfg[2];
        {
            seismic::g_exp_gamma = int(cfg[0]) == 6 ? cfg[6] : 0.0F;
            seismic::g_exp_perfect = (int(cfg[0]) == 9 || int(cfg[0]) == 5 || int(cfg[0]) == 6) ? 0 : int(cfg[0]);
            seismic::g_exp_mf = int(cfg[0]) == 5; seismic::g_exp_mbeta = cfg[4]; seismic::g_exp_mtop = int(cfg[1]); seismic::g_exp_mpf = int(cfg[5]) == 1; if (int(cfg[0]) == 5) seismic::g_exp_casc = 0;
            const int oracle = int(cfg[0]) == 9 ? 1 : 0;
            seismic::g_exp_m = int(cfg[0]) == 5 ? 0 : int(cfg[1]);
            seismic::g_exp_docf = int(cfg[3]); seismic::g_exp_beta = int(cfg[0]) == 5 ? 0.0F : cfg[4]; seismic::g_exp_casc = int(cfg[0]) == 5 ? 0 : int(cfg[5]); seismic::g_exp_cbeta = int(cfg[0]) == 6 ? 0.0F : cfg[6];
            const auto t0 = std::chrono::steady_clock::now();
            double tsearch = 0;
            seismic::SearchParams p;
            p.query_cut = qc; p.heap_factor = hf; p.knn = 10; p.screen_entries = 48;
            double rec = 0, docs = 0, full = 0, blocks = 0;
            for (std::size_t q = 0; q < nq; ++q) {
                seismic::g_exp_floor = oracle == 1 && truth[q].size() == 10 ? truth[q].back().score * 0.99999F : 0.0F;
                seismic::SearchStats st;
                const auto ts = std::chrono::steady_clock::now();
                const auto hits = index.search(queries.row(q), p, s, &st);
                tsearch += std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - ts).count();
                std::set<DocIndex> t; for (auto& h : truth[q]) t.insert(h.doc);
                int found = 0; for (auto& h : hits) found += t.count(h.doc);
                rec += truth[q].empty() ? 1.0 : double(found) / double(truth[q].size());
                docs += double(st.docs_scored); full += double(st.docs_scored - st.docs_screened_out); blocks += double(st.blocks_evaluated);
            }
            seismic::g_exp_floor = 0;
            spdlog::info("gamma {:.2f} mf {} {:.2f} top {} floor {} casc {} {:.2f} mean {:.1f} us P {} M {} docf {} beta {:.2f} qc {} hf {:.2f}: recall {:.4f} docs {:.0f} full {:.0f} blocks {:.0f}", seismic::g_exp_gamma, seismic::g_exp_mf, seismic::g_exp_mbeta, seismic::g_exp_mtop, oracle, seismic::g_exp_casc, seismic::g_exp_cbeta, tsearch / nq, seismic::g_exp_perfect, seismic::g_exp_m, seismic::g_exp_docf, seismic::g_exp_beta, qc, hf,
                         rec / nq, docs / nq, full / nq, blocks / nq);
        }
    }
}
