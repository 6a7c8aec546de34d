//! A full-viewport layer drawn into a texture only when what it shows
//! changes, and copied into its view each frame by one texture sample a pixel.
//!
//! A software renderer pays for every pixel of a view every frame, so a layer
//! whose shader is dear per pixel, or that holds still while the rest of the
//! window repaints, costs far less this way:
//! - the 2D scene's density p_t (`plane.wgsl`'s `density_fs`, the mixture's
//!   exponentials) is drawn at about half the view's pixels and magnified
//!   bilinearly: it is smooth at any t (each component at least as wide as the
//!   data's own), so half resolution loses nothing a class can see;
//! - the image batch's grid (`grid.wgsl`, integer arithmetic per pixel) is
//!   drawn at the images' own pixels and magnified by nearest sampling, which
//!   is what it showed before;
//! - the whole 2D picture (density, score arrows, trails, particles) once it
//!   has held still for a frame, at the view's own pixels, copied over what is
//!   under it ([`Blit::Over`]): while the window repaints for other reasons
//!   (a hover, a control, a timer) the view costs one copy, not its layers.

use egui_wgpu::wgpu;

/// How the texture is copied into its view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Blit {
    /// It replaces what is there (the layer is opaque).
    Opaque,
    /// It is laid over what is there: the texture holds premultiplied colour
    /// and coverage, drawn onto a transparent clear, so laying it over the
    /// view gives what drawing its layers straight there gives.
    Over,
}

/// Draws one full-viewport triangle with `pipeline` and its bind group 0.
pub(crate) fn draw_fullscreen(
    pass: &mut wgpu::RenderPass<'_>,
    pipeline: &wgpu::RenderPipeline,
    bind_group: &wgpu::BindGroup,
) {
    pass.set_pipeline(pipeline);
    pass.set_bind_group(0, bind_group, &[]);
    pass.draw(0..3, 0..1);
}

/// The texture, its blit pipeline and what it holds (`Key` says what).
pub(crate) struct CachedLayer<Key> {
    blit: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    format: wgpu::TextureFormat,
    /// The texture's view to render into, the blit's bind group, and its size.
    target: Option<(wgpu::TextureView, wgpu::BindGroup, [u32; 2])>,
    drawn: Option<Key>,
}

impl<Key: Copy + PartialEq> CachedLayer<Key> {
    /// The blit pipeline for the window's format; `filter` magnifies the texture.
    pub(crate) fn new(
        device: &wgpu::Device,
        target_format: wgpu::TextureFormat,
        filter: wgpu::FilterMode,
        blit: Blit,
    ) -> Self {
        let blend = match blit {
            Blit::Opaque => None,
            Blit::Over => Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
        };
        let (blit, layout) = super::fullscreen_pipeline(
            device,
            target_format,
            include_str!("../../shaders/cached_layer.wgsl"),
            "cached_layer_fs",
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
            blend,
        );
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("cached layer"),
            mag_filter: filter,
            min_filter: filter,
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

    /// Whether the texture holds `key`'s picture.
    pub(crate) fn holds(&self, key: Key) -> bool {
        self.drawn == Some(key) && self.target.is_some()
    }

    /// Redraws the texture, `size` texels, by `draw` into a pass cleared to
    /// transparent, if `key` differs from what it holds. What `draw` uses
    /// (uniforms, buffers) must already be written this frame.
    pub(crate) fn refresh(
        &mut self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        draw: impl FnOnce(&mut wgpu::RenderPass<'_>),
        key: Key,
        size: [u32; 2],
    ) {
        let size = size.map(|side| side.clamp(1, device.limits().max_texture_dimension_2d));
        if self.drawn == Some(key) && self.target.as_ref().is_some_and(|target| target.2 == size) {
            return;
        }
        if self.target.as_ref().is_none_or(|target| target.2 != size) {
            self.target = Some(self.make_target(device, size));
        }
        let Some((view, _, _)) = &self.target else {
            return;
        };
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("cached layer"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT),
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        draw(&mut pass);
        self.drawn = Some(key);
    }

    fn make_target(&self, device: &wgpu::Device, size: [u32; 2]) -> (wgpu::TextureView, wgpu::BindGroup, [u32; 2]) {
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("cached layer"),
            size: wgpu::Extent3d {
                width: size[0],
                height: size[1],
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            // The window's own format: what the layer writes is what the blit
            // samples back, so the colours are those it drew straight to the screen.
            format: self.format,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
            view_formats: &[],
        });
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("cached layer"),
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
        (view, bind_group, size)
    }

    /// Magnifies the texture into the pass's viewport, if it holds anything.
    pub(crate) fn paint(&self, pass: &mut wgpu::RenderPass<'_>) {
        if let (Some((_, bind_group, _)), Some(_)) = (&self.target, self.drawn) {
            pass.set_pipeline(&self.blit);
            pass.set_bind_group(0, bind_group, &[]);
            pass.draw(0..3, 0..1);
        }
    }

    /// The bytes the texture holds (four a texel).
    #[must_use]
    pub(crate) fn texture_bytes(&self) -> u64 {
        self.target
            .as_ref()
            .map_or(0, |(_, _, size)| 4 * u64::from(size[0]) * u64::from(size[1]))
    }
}
