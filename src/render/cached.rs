//! The 2D scene's density p_t as a texture: drawn by `plane.wgsl`'s
//! `density_fs` into a texture of about half the view's pixels only when what
//! it shows changes (ᾱ_t, the view, the gain, the mixture), and magnified into
//! the view each frame by one bilinear sample a pixel.
//!
//! The density is smooth at any t (a mixture of Gaussians, each at least
//! √(1 − ᾱ_t) wide after noising, and as wide as the data's own components at
//! t = 0), so half resolution loses nothing a class can see; per frame a
//! software renderer then shades a quarter of the view's pixels with the
//! mixture's exponentials, and those only when the picture moves.

use egui_wgpu::wgpu;

/// Texels per side, least and most.
const SIDE_RANGE: std::ops::RangeInclusive<u32> = 64..=1024;

/// What the texture shows; a new one redraws it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct DensityKey {
    /// The view uniform's centre, scale, ᾱ_t and gain.
    pub view: [f32; 6],
    /// Bumped when the mixture changes.
    pub mixture_generation: u64,
    /// Texels per side.
    pub side: u32,
}

/// The texture, its blit pipeline and what it holds.
pub(crate) struct DensityTexture {
    blit: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    format: wgpu::TextureFormat,
    /// The texture's view to render into, and the blit's bind group.
    target: Option<(wgpu::TextureView, wgpu::BindGroup)>,
    drawn: Option<DensityKey>,
}

/// Texels per side for a view `view_pixels` wide: about half, within bounds.
#[must_use]
pub(crate) fn side_for(view_pixels: f32) -> u32 {
    ((view_pixels / 2.0).ceil() as u32).clamp(*SIDE_RANGE.start(), *SIDE_RANGE.end())
}

impl DensityTexture {
    pub(crate) fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let (blit, layout) = super::fullscreen_pipeline(
            device,
            target_format,
            include_str!("../../shaders/density_blit.wgsl"),
            "density_blit_fs",
            &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: true },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        );
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("density"),
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..wgpu::SamplerDescriptor::default()
        });
        Self {
            blit,
            layout,
            sampler,
            format: target_format,
            target: None,
            drawn: None,
        }
    }

    /// Forgets what the texture holds, so the next frame redraws it.
    pub(crate) fn invalidate(&mut self) {
        self.drawn = None;
    }

    /// Redraws the texture with `density` (its bind group 0 set to `bind_group`)
    /// if `key` differs from what it holds. The view uniform must already be
    /// written for this frame.
    pub(crate) fn refresh(
        &mut self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        density: (&wgpu::RenderPipeline, &wgpu::BindGroup),
        key: DensityKey,
    ) {
        if self.drawn == Some(key) {
            return;
        }
        if self.drawn.is_none_or(|drawn| drawn.side != key.side) || self.target.is_none() {
            self.target = Some(self.make_target(device, key.side));
        }
        let Some((view, _)) = &self.target else {
            return;
        };
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("density texture"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        pass.set_pipeline(density.0);
        pass.set_bind_group(0, density.1, &[]);
        pass.draw(0..3, 0..1);
        self.drawn = Some(key);
    }

    fn make_target(&self, device: &wgpu::Device, side: u32) -> (wgpu::TextureView, wgpu::BindGroup) {
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("density"),
            size: wgpu::Extent3d {
                width: side,
                height: side,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            // The window's own format: what density_fs writes is what the blit
            // samples back, so the colours are those it drew straight to the screen.
            format: self.format,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
            view_formats: &[],
        });
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("density"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(&view),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::Sampler(&self.sampler),
                },
            ],
        });
        (view, bind_group)
    }

    /// Magnifies the texture into the pass's viewport, if it holds anything.
    pub(crate) fn paint(&self, pass: &mut wgpu::RenderPass<'static>) {
        if let (Some((_, bind_group)), Some(_)) = (&self.target, self.drawn) {
            pass.set_pipeline(&self.blit);
            pass.set_bind_group(0, bind_group, &[]);
            pass.draw(0..3, 0..1);
        }
    }

    /// The bytes the texture holds (four a texel).
    #[must_use]
    pub(crate) fn texture_bytes(&self) -> u64 {
        self.drawn
            .map_or(0, |key| 4 * u64::from(key.side) * u64::from(key.side))
    }
}
